{
  description = "a github: input the mirror forge does not hold, with no internet upstream: the proxy's offline miss";
  inputs.gone.url = "github:gnfc-forge/not-mirrored";
  outputs = { self, gone }: {
    packages.x86_64-linux.default = derivation {
      name = "never";
      system = "x86_64-linux";
      builder = "/bin/sh";
    };
  };
}
