{
  description = "an output whose evaluation is exponential (2^40 calls): CPU-bound, constant memory, hits the wall-clock limit";
  outputs = { self }:
    let
      f = n: if n == 0 then 1 else f (n - 1) + f (n - 1);
    in
    {
      packages.x86_64-linux.default = builtins.derivation {
        name = "slow-${toString (f 40)}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
