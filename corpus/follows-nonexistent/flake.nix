{
  description = "an input follows an input name that is not declared anywhere";
  inputs.nixpkgs.follows = "nixpkgs-unstable";
  outputs = { self, nixpkgs }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "follows-nonexistent";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
