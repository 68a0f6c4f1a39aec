{
  description = "one output recurses a million calls deep (non-tail), exhausting the evaluator's stack; the other output is fine";
  outputs = { self }:
    let
      depth = n: if n == 0 then 0 else 1 + depth (n - 1);
      mk = name: builtins.derivation {
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    in
    {
      packages.x86_64-linux.fine = mk "fine";
      packages.x86_64-linux.deep = mk "deep-${toString (depth 1000000)}";
    };
}
