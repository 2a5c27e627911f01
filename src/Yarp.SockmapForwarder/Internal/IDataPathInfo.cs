namespace Yarp.SockmapForwarder.Internal;

/// <summary>What the integration reads from the data path for validation, status and metrics.</summary>
internal interface IDataPathInfo
{
    /// <summary>Whether this process can use the sockmap path (a route with Mode=Sockmap fails validation otherwise).</summary>
    SockmapAvailability SockmapAvailability { get; }

    /// <summary>Verdict program runs of a route, indexed by CPU; empty when the sockmap path is not loaded.</summary>
    IReadOnlyList<long> VerdictRunsPerCpu(int routeIndex);
}
