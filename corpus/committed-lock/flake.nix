{
  description = "inputs that only use follows, with an up-to-date committed flake.lock that the committed resolver keeps unchanged";
  # overridable placeholders: a consumer can set these with inputs.<this>.inputs.nixpkgs.follows
  inputs.nixpkgs.follows = "";
  inputs.systems.follows = "";
  outputs = { self, nixpkgs, systems }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "committed-lock";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
      lock = builtins.readFile ./flake.lock;
    };
  };
}
