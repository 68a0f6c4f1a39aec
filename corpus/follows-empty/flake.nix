{
  description = "input with follows = \"\": the input resolves to the root flake (self) itself";
  inputs.overridable.follows = "";
  outputs = { self, overridable }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "follows-empty";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    # overridable is self, so this is the flake's own package
    checks.x86_64-linux.same-as-self = overridable.packages.x86_64-linux.default;
  };
}
