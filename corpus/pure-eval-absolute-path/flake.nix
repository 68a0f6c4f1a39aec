{
  description = "one output reads /etc/passwd, an absolute path outside the store: forbidden in pure evaluation (the impure enumerate stage never forces it)";
  outputs = { self }:
    let
      mk = name: attrs: builtins.derivation ({
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
      } // attrs);
    in
    {
      packages.x86_64-linux.pure = mk "pure" { };
      packages.x86_64-linux.reads-etc = mk "reads-etc" { users = builtins.readFile /etc/passwd; };
    };
}
