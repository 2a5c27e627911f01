namespace ProxyHost.Tests.Infrastructure;

/// <summary>
/// Every test here starts ProxyHost processes that pin a worker per CPU; on a 2-core VM they run one at a time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProxyHostCollection
{
    public const string Name = "ProxyHost processes";
}
