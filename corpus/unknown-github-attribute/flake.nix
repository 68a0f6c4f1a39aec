{
  description = "a github input in attribute form with an unknown attribute (tag); newer CppNix ignored it silently, 2.8 rejects it before any download";
  inputs.upstream = {
    type = "github";
    owner = "example";
    repo = "upstream";
    tag = "v1.0.0";
  };
  outputs = { self, upstream }: { };
}
