{
  description = "one output is guarded by an assert that fails; the other output evaluates";
  outputs = { self }:
    let
      mk = name: builtins.derivation {
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    in
    {
      packages.x86_64-linux.ok = mk "ok";
      devShells.x86_64-linux.default = assert builtins.pathExists ./shell-requirements.txt; mk "shell";
    };
}
