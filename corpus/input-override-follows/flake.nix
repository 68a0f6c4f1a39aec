{
  description = "input override: inputs.a.inputs.b.follows = \"b\" makes a use the root's b";
  inputs.b.url = "path:./b";
  inputs.a = {
    url = "path:./a";
    inputs.b.follows = "b";
  };
  outputs = { self, a, b }: {
    packages.x86_64-linux.default = a.packages.x86_64-linux.a;
  };
}
