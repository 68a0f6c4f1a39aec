{
  description = "library flake, consumed by ../app through a relative path input";
  outputs = { self }: {
    lib.mkPkg = name: builtins.derivation {
      inherit name;
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    packages.x86_64-linux.lib-pkg = self.lib.mkPkg "lib-pkg";
  };
}
