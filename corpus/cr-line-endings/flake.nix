{
  description = "flake.nix with CRLF line endings (Lix rejects CR line endings)";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "crlf";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
      text = ''
        a multi-line string
        whose lines end in CR LF
      '';
    };
  };
}
