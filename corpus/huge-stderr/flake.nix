{
  description = "evaluating the package prints about 6 MB of builtins.trace output on stderr, then succeeds";
  outputs = { self }:
    let
      line = builtins.concatStringsSep "" (builtins.genList (_: "0123456789abcdef") 16);
      noisy = builtins.foldl' (acc: i: builtins.trace "line ${toString i}: ${line}" (acc + 1)) 0 (builtins.genList (i: i) 24000);
    in
    {
      packages.x86_64-linux.default = builtins.derivation {
        name = "huge-stderr-${toString noisy}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      };
    };
}
