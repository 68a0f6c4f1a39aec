{
  description = "the outputs attrset is defined in terms of itself: infinite recursion at the top level";
  outputs = { self }:
    let
      outs = outs // {
        packages.x86_64-linux.default = builtins.derivation {
          name = "never";
          system = "x86_64-linux";
          builder = "/bin/sh";
          args = [ "-c" "echo > $out" ];
        };
      };
    in
    outs;
}
