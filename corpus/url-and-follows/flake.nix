{
  description = "one input with both url and follows set";
  inputs.dep.url = "path:./dep";
  inputs.other = {
    url = "path:./dep";
    follows = "dep";
  };
  outputs = { self, dep, other }: {
    packages.x86_64-linux.default = other.packages.x86_64-linux.dep;
  };
}
