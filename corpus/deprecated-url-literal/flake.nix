{
  description = "an unquoted URL literal in an expression (removed in Lix, still accepted by CppNix)";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "url-literal";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
      homepage = https://example.org/project;
    };
  };
}
