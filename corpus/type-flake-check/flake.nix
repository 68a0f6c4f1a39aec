{
  description = "checks that inputs carry _type = \"flake\", inputs, outputs, sourceInfo and lastModifiedDate, as flake-parts does";
  inputs.dep.url = "path:./dep";
  outputs = { self, dep }:
    assert dep._type or null == "flake";
    assert self._type or null == "flake";
    assert dep ? inputs && dep ? outputs && dep ? sourceInfo && dep ? lastModifiedDate && dep ? narHash;
    {
      packages.x86_64-linux.default = dep.outputs.packages.x86_64-linux.dep;
    };
}
