{
  description = "a relative path input that climbs above the repository root (path:../other-repo)";
  inputs.other.url = "path:../other-repo";
  outputs = { self, other }: { };
}
