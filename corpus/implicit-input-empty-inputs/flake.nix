{
  description = "inputs = {} with an extra outputs argument: nixpkgs is an implicit registry input; the committed lock pins it to a path on the author's machine";
  inputs = { };
  outputs = { self, nixpkgs }:
    let
      mk = name: builtins.derivation {
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    in
    {
      packages.x86_64-linux.own = mk "own";
      packages.x86_64-linux.from-nixpkgs = mk "from-nixpkgs-${nixpkgs.lastModifiedDate}";
    };
}
