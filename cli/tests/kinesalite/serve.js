// kinesalite in memory on a loopback port the system picks, for cli/tests/kinesis.rs.
// Prints the port as the first line of stdout once it listens, so no two servers can race for
// one port (kinesalite's own CLI needs a port chosen beforehand). Usage: node serve.js
'use strict'
const kinesalite = require('kinesalite')

const server = kinesalite({ createStreamMs: 0, shardLimit: 50 })
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`)
})
