{
  description = "an output refers to a variable that is not in scope (a parse-time error in Nix)";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "undefined";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
      buildInputs = [ pkgs.hello ];
    };
  };
}
