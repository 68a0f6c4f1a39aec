{
  description = "the committed flake.lock declares a lock file version from the future (99); only the committed resolver reads it";
  inputs.placeholder.follows = "";
  outputs = { self, placeholder }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "lock-version";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
