"""Writes the objects the storage tests read, with the providers' own SDKs (boto3, the Azure
Storage SDK), so that what ml-gates reads was put there by the clients users have.

  objects.py s3-user ENDPOINT                      -> {"id": ..., "secret": ...} (an IAM user allowed everything)
  objects.py s3-put ENDPOINT ID SECRET BUCKET KEY=FILE...   (creates BUCKET when it is missing)
  objects.py az-put CONNECTION_STRING CONTAINER NAME=FILE... (creates CONTAINER when it is missing)
"""
import json
import sys


def s3_user(endpoint):
    import boto3

    # The first requests of a moto server started with INITIAL_NO_AUTH_ACTION_COUNT are not
    # authenticated: they create the user whose keys sign everything after.
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=json.dumps(policy))
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))


def s3_put(endpoint, key_id, secret, bucket, pairs):
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=key_id, aws_secret_access_key=secret)
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
    for pair in pairs:
        key, path = pair.split("=", 1)
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())


def az_put(connection, container, pairs):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    for pair in pairs:
        name, path = pair.split("=", 1)
        with open(path, "rb") as f:
            client.upload_blob(name, f.read(), overwrite=True)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "s3-user":
        s3_user(*args)
    elif command == "s3-put":
        s3_put(args[0], args[1], args[2], args[3], args[4:])
    elif command == "az-put":
        az_put(args[0], args[1], args[2:])
    else:
        sys.exit(f"unknown command {command}")
