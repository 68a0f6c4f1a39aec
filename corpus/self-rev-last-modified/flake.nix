{
  description = "puts self.rev and self.lastModifiedDate in a derivation: its drvPath is the same in every test and run because gnfc commits each test's source with fixed metadata";
  # No inputs: locking writes no flake.lock, so the tree stays clean and has a rev.
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "self-rev-${self.lastModifiedDate}-${builtins.substring 0 12 self.rev}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo $rev $lastModified > $out" ];
      inherit (self) rev lastModified;
    };
  };
}
