{
  description = "two outputs, one refers to an attribute that does not exist: outcome partial";
  outputs = { self }: {
    packages.x86_64-linux.good = builtins.derivation {
      name = "good";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    packages.x86_64-linux.bad = self.packages.x86_64-linux.does-not-exist;
  };
}
