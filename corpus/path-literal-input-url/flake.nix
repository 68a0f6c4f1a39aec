{
  description = "an input url given as a path literal (inputs.foo.url = ./foo), accepted only by newer CppNix";
  inputs.foo.url = ./foo;
  outputs = { self, foo }: {
    packages.x86_64-linux.default = foo.packages.x86_64-linux.foo;
  };
}
