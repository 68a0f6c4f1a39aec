{
  description = "uses self.outPath (and \"\${self}\") to find the flake's own source, as flake-parts and blueprint do";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "self-outpath";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo \"$content\" > $out" ];
      content = builtins.readFile (self.outPath + "/data.txt");
      src = "${self}";
    };
  };
}
