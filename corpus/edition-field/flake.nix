{
  description = "prehistoric flake with an edition field, removed from the flake format long ago";
  edition = 201909;
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "edition";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
