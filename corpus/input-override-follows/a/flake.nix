{
  description = "helper flake a: has its own input b, which the root overrides";
  inputs.b.url = "path:../b";
  outputs = { self, b }: {
    packages.x86_64-linux.a = builtins.derivation {
      name = "a-with-${b.name}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
