{
  description = "builtins.warn in one output (builtins.warn is missing from older CppNix and older Lix)";
  outputs = { self }: {
    packages.x86_64-linux.plain = builtins.derivation {
      name = "plain";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    packages.x86_64-linux.warned = builtins.warn "this package is deprecated" (builtins.derivation {
      name = "warned";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    });
  };
}
