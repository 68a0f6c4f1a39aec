{
  description = "one output uses builtins.currentSystem, which does not exist in pure evaluation mode";
  outputs = { self }:
    let
      mk = name: system: builtins.derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    in
    {
      packages.x86_64-linux.pinned = mk "pinned" "x86_64-linux";
      packages.x86_64-linux.host = mk "host" builtins.currentSystem;
    };
}
