{
  description = "committed flake.lock pins a relative path input to a narHash that matches no content (vendor/ was edited after locking)";
  inputs.vendor = {
    url = "path:./vendor";
    flake = false;
  };
  outputs = { self, vendor }:
    let
      mk = name: attrs: builtins.derivation ({
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      } // attrs);
    in
    {
      packages.x86_64-linux.uses-vendor = mk "uses-vendor" { readme = builtins.readFile "${vendor}/README"; };
      packages.x86_64-linux.independent = mk "independent" { };
    };
}
