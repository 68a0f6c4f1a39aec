{
  description = "an import-from-derivation builder that sleeps for ten minutes";
  outputs = { self }:
    let
      slow = builtins.derivation {
        name = "long-sleep";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "/bin/sleep 600 && echo '{ }' > $out" ];
      };
    in
    {
      packages.x86_64-linux.harmless = builtins.derivation {
        name = "harmless";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
      packages.x86_64-linux.sleepy = (import slow) // builtins.derivation {
        name = "after-sleep";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
