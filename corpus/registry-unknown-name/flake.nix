{
  description = "an indirect input (flake:...) that no registry entry names";
  inputs.nowhere.url = "flake:no-such-registry-entry";
  outputs = { self, nowhere }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "unreachable";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
