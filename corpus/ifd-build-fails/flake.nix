{
  description = "import from derivation whose builder fails: the output's evaluation fails with a build error";
  outputs = { self }:
    let
      mk = name: builtins.derivation {
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
      broken = builtins.derivation {
        name = "generated-nix-broken";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo 'generator failed on purpose' >&2; exit 3" ];
      };
    in
    {
      packages.x86_64-linux.fine = mk "fine";
      packages.x86_64-linux.ifd = mk "ifd-${(import broken).name}";
    };
}
