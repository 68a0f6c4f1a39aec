{
  description = "one check output calls throw; the package output evaluates fine";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "fine";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    checks.x86_64-linux.broken = throw "this check is intentionally broken";
  };
}
