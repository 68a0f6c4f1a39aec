{
  description = "flake-parts.flake = false without a url: a non-flake registry input";
  inputs.flake-parts.flake = false;
  outputs = { self, flake-parts }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "implicit-non-flake";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
