{
  description = "import from derivation: evaluating the output builds a derivation (needs a local builder; no substituters)";
  outputs = { self }:
    let
      generated = builtins.derivation {
        name = "generated-nix";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo '{ answer = 42; }' > $out" ];
      };
      value = import generated;
    in
    {
      packages.x86_64-linux.default = builtins.derivation {
        name = "ifd-${toString value.answer}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
