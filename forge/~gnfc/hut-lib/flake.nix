{
  description = "library flake served by the mirror forge as a SourceHut repository";
  outputs = { self }: {
    lib.mkPkg = name: builtins.derivation {
      inherit name;
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
    lib.origin = "SourceHut";
  };
}
