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
      packages.x86_64-linux.the-bomb = (import bomb) // builtins.derivation {
        name = "after-bomb";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
      # The container's own pids limit, read from inside (cgroup v2, else v1) by a builder
      # and put in a derivation name: the drvPath shows the limit gnfc.toml asked for. Its
      # name sorts before the bomb's, so it is evaluated first, whatever the bomb does.
      packages.x86_64-linux.pids-limit = builtins.derivation {
        name = "pids-max-${builtins.readFile (builtins.derivation {
          name = "pids-probe";
          system = "x86_64-linux";
          builder = "/bin/sh";
          args = [ "-c" "read -r n < /sys/fs/cgroup/pids.max || read -r n < /sys/fs/cgroup/pids/pids.max; printf %s \"$n\" > $out" ];
        })}";
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
