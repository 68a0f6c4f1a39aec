{
  description = "flake = false input given as a relative path: the input is plain source, not a flake";
  inputs.data = {
    url = "path:../data";
    flake = false;
  };
  outputs = { self, data }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "flake-false";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo \"$greeting\" > $out" ];
      greeting = builtins.readFile "${data}/greeting.txt";
    };
  };
}
