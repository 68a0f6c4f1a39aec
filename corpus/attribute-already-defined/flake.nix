{
  description = "the same attribute set is written twice as a = { b.c = 1; }; a = { b.d = 2; }; (rejected by some Lix versions)";
  outputs = { self }: {
    lib = { b.c = 1; };
    lib = { b.d = 2; };
    packages.x86_64-linux.default = builtins.derivation {
      name = "merged-${toString (self.lib.b.c + self.lib.b.d)}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
