import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { qualify } from '../lib/athena-layer/statements';
import { GLUE_SCHEMA_DIR, loadLakeSchema } from '../lib/schema';
import { only, template } from './helpers';

const schema = loadLakeSchema();
const tableJson = JSON.parse(fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'table.json'), 'utf8'));
const catalogJson = JSON.parse(fs.readFileSync(path.join(GLUE_SCHEMA_DIR, 'catalog.json'), 'utf8'));

/** Partition keys the transform returned in every fixture (checked against the real transform by `cargo test`). */
function transformPartitionKeyNames(): Set<string> {
  const fixtures = path.join(GLUE_SCHEMA_DIR, '..', 'transform', 'fixtures');
  const names = new Set<string>();
  let okRecords = 0;
  for (const dir of fs.readdirSync(fixtures)) {
    const expected = path.join(fixtures, dir, 'expected.json');
    if (!fs.existsSync(expected)) continue;
    for (const r of JSON.parse(fs.readFileSync(expected, 'utf8')).records) {
      if (r.result !== 'Ok') continue;
      okRecords += 1;
      const keys = Object.keys(r.partitionKeys).sort().join(',');
      names.add(keys);
    }
  }
  assert.ok(okRecords > 100, `fixtures hold Ok records (${okRecords})`);
  assert.equal(names.size, 1, `every Ok record has the same partition key names: ${[...names].join(' | ')}`);
  return new Set([...names][0].split(','));
}

describe('the Glue table is glue-schema/, not a copy', () => {
  const table = () => only(template('prod'), 'AWS::Glue::Table').props.TableInput;

  it('has exactly the columns of table.json, in order, with their types', () => {
    assert.deepEqual(
      table().StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type]),
      tableJson.columns.map((c: any) => [c.name, c.type]),
    );
  });

  it('has exactly the partition keys of table.json, in order', () => {
    assert.deepEqual(
      table().PartitionKeys.map((c: any) => [c.Name, c.Type]),
      tableJson.partitionKeys.map((c: any) => [c.name, c.type]),
    );
  });

  it('projects event_type over every event type of catalog.json', () => {
    const values = table().Parameters['projection.event_type.values'].split(',');
    assert.deepEqual(values, catalogJson.event_types.map((t: any) => t.name).sort());
    assert.equal(values.length, 26);
  });

  it('projects created_date as table.json says', () => {
    const p = table().Parameters;
    const d = tableJson.projection.created_date;
    assert.equal(p['projection.created_date.range'], d.range);
    assert.equal(p['projection.created_date.interval'], String(d.interval));
    assert.equal(p['projection.created_date.interval.unit'], d.intervalUnit);
  });

  it('finds partitions where Firehose writes them', () => {
    const p = table().Parameters;
    const template_ = JSON.stringify(p['storage.location.template']);
    assert.ok(template_.includes(tableJson.storage.locationTemplate), template_);
  });
});

describe('Firehose prefix and the transform agree', () => {
  it('the prefix names exactly the partition keys the transform emits, in the table\'s order', () => {
    const prefix: string = only(template('prod'), 'AWS::KinesisFirehose::DeliveryStream').props.ExtendedS3DestinationConfiguration.Prefix;
    const fromLambda = [...prefix.matchAll(/(\w+)=!\{partitionKeyFromLambda:(\w+)\}/g)];
    for (const [, dirName, key] of fromLambda) {
      assert.equal(dirName, key, 'the directory is named after the key');
    }
    const keys = fromLambda.map((m) => m[2]);
    assert.deepEqual(new Set(keys), transformPartitionKeyNames());
    assert.deepEqual(keys, tableJson.partitionKeys.map((k: any) => k.name));
    assert.ok(prefix.startsWith(tableJson.storage.eventsPrefix));
  });
});

describe('schema loading', () => {
  it('reads every generated view and query', () => {
    const views = fs.readdirSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'views')).length;
    const queries = fs.readdirSync(path.join(GLUE_SCHEMA_DIR, 'athena', 'queries')).length;
    assert.equal(schema.namedQueries.length, views + queries);
  });

  it('requalifies names, not look-alikes', () => {
    const sql = 'SELECT x FROM eventlake.events e JOIN eventlake.page_viewed p ON p.eventlake = 1 -- "eventlake.x" my_eventlake.t';
    assert.equal(
      qualify(sql, 'eventlake', 'lake_dev'),
      'SELECT x FROM lake_dev.events e JOIN lake_dev.page_viewed p ON p.eventlake = 1 -- "eventlake.x" my_eventlake.t',
    );
  });
});
