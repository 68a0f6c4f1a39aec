{
  description = "a flake in a subdirectory whose path has a space and an exclamation mark (Lix once rejected it with invalid URL)";
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "weird-subdir";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
