{
  description = "an input named hls-1.2: dots and dashes in input names must be escaped in lockfiles";
  inputs."hls-1.2".url = "path:./dep";
  outputs = inputs@{ self, ... }: {
    packages.x86_64-linux."hls-${inputs."hls-1.2".version}" = builtins.derivation {
      name = "hls-${inputs."hls-1.2".version}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
