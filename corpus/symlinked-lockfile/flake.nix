{
  description = "flake.lock is a symlink to locks/flake.lock (newer CppNix refuses symlinked lockfiles)";
  inputs.placeholder.follows = "";
  outputs = { self, placeholder }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "symlinked-lockfile";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
