{
  description = "inputs.nixpkgs = {}: an input with no url, looked up in the flake registry";
  inputs.nixpkgs = { };
  outputs = { self, nixpkgs }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "implicit";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
