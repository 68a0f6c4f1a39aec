{
  description = "helper flake for path-literal-input-url";
  outputs = { self }: {
    packages.x86_64-linux.foo = builtins.derivation {
      name = "foo";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
