{
  description = "an output whose evaluation keeps tens of millions of strings alive";
  outputs = { self }:
    let
      hog = builtins.genList (i: "string number ${toString i} kept alive") 50000000;
    in
    {
      packages.x86_64-linux.hog = builtins.derivation {
        name = "hog-${toString (builtins.length (builtins.deepSeq hog hog))}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
      packages.x86_64-linux.harmless = builtins.derivation {
        name = "harmless";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
