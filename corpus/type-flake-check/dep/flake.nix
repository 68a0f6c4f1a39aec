{
  description = "dependency flake whose _type is checked by the consumer";
  outputs = { self }: {
    packages.x86_64-linux.dep = builtins.derivation {
      name = "dep";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
