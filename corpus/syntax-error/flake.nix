{
  description = "flake.nix does not parse (missing semicolon)";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "syntax"
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
