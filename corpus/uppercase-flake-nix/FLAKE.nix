{
  description = "the flake file is named FLAKE.nix; there is no flake.nix";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "uppercase";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
